# evaluate stage: rules added by its issue.

# tune stage: rules added by its issue.

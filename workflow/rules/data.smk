# data stage: rules added by its issue.

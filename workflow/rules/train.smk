# train stage: rules added by its issue.

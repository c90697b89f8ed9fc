enum InferencePlaceholder {}

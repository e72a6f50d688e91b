//! DSL front end (todo)

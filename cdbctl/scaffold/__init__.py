"""`cdbctl scaffold`: generate the back-office services from templates and fix compose build paths."""

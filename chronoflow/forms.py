"""What every HTML form shares: marshmallow decides what is valid (the same
schemas as the API and the CLI); a form only puts each error next to its field."""
from flask_wtf import FlaskForm


class SchemaForm(FlaskForm):
    def values(self):
        """What the person typed, for a schema: every field but the CSRF token."""
        return {name: value for name, value in self.data.items() if name != "csrf_token"}

    def errors_found(self):
        return any(field.errors for field in self) or bool(self.form_errors)

    def attach_errors(self, messages):
        """marshmallow's errors ({"field": [...], "config": {"timeout_ms": [...]}}) onto the fields."""
        for name, problems in messages.items():
            field = getattr(self, name, None)
            if isinstance(problems, dict) and field is None:  # a nested schema: its fields are ours
                self.attach_errors(problems)
                continue
            if isinstance(problems, dict):  # per item, e.g. recipients.2
                problems = [message for nested in problems.values() for message in nested]
            problems = [str(problem) for problem in problems]
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, *problems]  # a tuple until WTForms validates the field
            else:
                self.form_errors.extend(problems)

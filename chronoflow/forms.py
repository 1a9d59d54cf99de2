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
            problems = [str(problem) for problem in _flat(problems)]
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, *problems]  # a tuple until WTForms validates the field
            else:
                self.form_errors.extend(problems)


def _flat(problems):
    """The messages of a field, also those per item (recipients.2, headers.X.value)."""
    if isinstance(problems, dict):
        return [message for nested in problems.values() for message in _flat(nested)]
    if isinstance(problems, (list, tuple)):
        return [message for nested in problems for message in _flat(nested)]
    return [problems]

"""builders.py is what builders_gen makes of the request models (run `make builders`)."""

from __future__ import annotations

from batos_core.protocol import builders
from batos_core.protocol.builders_gen import TARGET, render
from batos_core.protocol.messages.unions import REQUEST_MODELS, message_type


def test_builders_py_is_generated_from_the_current_models() -> None:
    assert TARGET.read_text() == render(), "builders.py is stale: run `make builders`"


def test_every_request_model_has_a_builder_of_its_type() -> None:
    for model in REQUEST_MODELS:
        kind = message_type(model)
        assert getattr(builders, kind)(**_required(model))["type"] == kind


def _required(model: type) -> dict[str, object]:
    samples = {str: "genesis", int: 1, bool: True}
    fields = model.model_fields  # type: ignore[attr-defined]
    return {
        name: samples.get(field.annotation, "x")
        for name, field in fields.items()
        if field.is_required() and name not in ("type", "id")
    }

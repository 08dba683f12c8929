"""Reading a YAML file node by node, so that every complaint about it names its line
(policies, risk rules, compensation presets): the walk is shared, each file kind says
how a complaint is raised."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode


class NodeReader:
    """Walks a PyYAML node tree; subclasses implement ``fail`` with their own error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, reason: str) -> Exception:
        """The error to raise for ``node`` (its line is ``node.start_mark.line + 1``)."""
        raise NotImplementedError

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        """The mapping's fields by name, as (key node, value node); refuses a
        non-mapping, a key that is not a plain name and a key given twice."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                raise self.fail(key, f"keys of {what} must be plain names")
            if key.value in out:
                raise self.fail(key, f"'{key.value}' appears twice in {what}")
            out[key.value] = (key, value)
        return out

    def scalar(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return node.value

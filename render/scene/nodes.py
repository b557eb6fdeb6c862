"""Small helpers for node trees (shader, world and geometry nodes)."""

from __future__ import annotations

from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)


class _Nodes:
    """Small helper to add and link shader nodes."""

    def __init__(self, tree: bpy.types.NodeTree):
        self.tree = tree
        self.x = -900

    def new(self, kind: str, **props: Any) -> bpy.types.Node:
        node = self.tree.nodes.new(kind)
        node.location = (self.x, 0)
        self.x += 220
        for k, v in props.items():
            setattr(node, k, v)
        return node

    def link(self, out: bpy.types.NodeSocket, inp: bpy.types.NodeSocket) -> None:
        self.tree.links.new(out, inp)


def _socket(sockets: Any, identifier: str) -> Any:
    """A node socket by identifier (Mix nodes have several sockets with the same name)."""
    for sock in sockets:
        if sock.identifier == identifier:
            return sock
    raise KeyError(identifier)

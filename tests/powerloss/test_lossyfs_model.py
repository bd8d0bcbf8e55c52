"""LossyFS against a model: random operations, power cuts, and the same tree on both sides.

The model is a few dictionaries: inodes with live and durable content, directories with
live and durable entry maps, and the log of pending namespace changes, committed by the
rule lossyfs.py states (fsyncdir of D commits D's changes and, through renames, the
earlier changes of the directories they touch, in order; a directory's rename commits
everything before it). Each seed runs random writes,
truncates, creates, mkdirs, links, renames, unlinks, rmdirs, fsyncs and fsyncdirs on a
real mount; the kernel decides which namespace operations are valid and the model
follows. After every step the mount must show the model's live tree, after every power
cut its durable one: names, directory structure, file content and hard links.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .mount import LossyMount

MountFactory = Callable[..., LossyMount]
NAMES = ("a", "b", "c")


@dataclass
class Node:
    id: int
    is_dir: bool
    live: dict[str, Node] | bytes = b""
    durable: dict[str, Node] | bytes = b""


@dataclass
class Model:
    root: Node = field(default_factory=lambda: Node(0, True, {}, {}))
    # (directories touched, moves a directory, apply to the durable side)
    log: list[tuple[frozenset[int], bool, Callable[[], None]]] = field(default_factory=list)
    next_id: int = 1

    def new(self, is_dir: bool) -> Node:
        self.next_id += 1
        return Node(self.next_id, is_dir, {} if is_dir else b"", {} if is_dir else b"")

    def resolve(self, parts: tuple[str, ...]) -> Node:
        node = self.root
        for p in parts:
            assert isinstance(node.live, dict)
            node = node.live[p]
        return node

    def entries(self, node: Node, durable: bool) -> dict[str, Node]:
        value = node.durable if durable else node.live
        assert isinstance(value, dict)
        return value

    def change(self, dirs: set[int], apply: Callable[[], None], moves_dir: bool = False) -> None:
        self.log.append((frozenset(dirs), moves_dir, apply))

    def commit(self, dir_id: int) -> None:
        hot, chosen, kept = {dir_id}, [], []
        everything = False
        for dirs, moves_dir, apply in reversed(self.log):
            if everything or dirs & hot:
                chosen.append(apply)
                hot |= dirs
                everything |= moves_dir
            else:
                kept.append((dirs, moves_dir, apply))
        self.log = kept[::-1]
        for apply in reversed(chosen):
            apply()

    def power_cut(self) -> None:
        """Everything live becomes what is durable (reachable from the root)."""
        self.log.clear()
        seen: set[int] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.id in seen:
                continue
            seen.add(node.id)
            if node.is_dir:
                node.live = dict(self.entries(node, durable=True))
                stack.extend(node.live.values())
            else:
                node.live = node.durable

    def tree(self) -> dict[str, bytes | None]:
        """path -> content (None for a directory) of the live tree."""
        out: dict[str, bytes | None] = {}
        stack: list[tuple[str, Node]] = [("", self.root)]
        while stack:
            prefix, node = stack.pop()
            for name, child in self.entries(node, durable=False).items():
                path = f"{prefix}{name}"
                if child.is_dir:
                    out[path] = None
                    stack.append((path + "/", child))
                else:
                    assert isinstance(child.live, bytes)
                    out[path] = child.live
        return out


def mount_tree(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel + "/"
        for d in dirnames:
            out[prefix + d] = None
        for f in filenames:
            out[prefix + f] = Path(dirpath, f).read_bytes()
    return out


def links(root: Path) -> list[list[str]]:
    """Groups of paths that are one inode (two or more names)."""
    groups: dict[int, list[str]] = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = Path(dirpath, f)
            groups.setdefault(p.stat().st_ino, []).append(str(p.relative_to(root)))
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def model_links(model: Model) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    stack: list[tuple[str, Node]] = [("", model.root)]
    while stack:
        prefix, node = stack.pop()
        for name, child in model.entries(node, durable=False).items():
            if child.is_dir:
                stack.append((f"{prefix}{name}/", child))
            else:
                groups.setdefault(child.id, []).append(prefix + name)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


class Driver:
    """Runs one random operation on the mount and, when the kernel accepted it, on the
    model."""

    def __init__(self, mount: LossyMount, model: Model, rng: random.Random) -> None:
        self.m, self.model, self.rng = mount, model, rng

    def paths(self, want_dir: bool | None) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = [()] if want_dir in (None, True) else []
        stack: list[tuple[tuple[str, ...], Node]] = [((), self.model.root)]
        while stack:
            parts, node = stack.pop()
            for name, child in self.model.entries(node, durable=False).items():
                if child.is_dir:
                    stack.append(((*parts, name), child))
                if want_dir is None or child.is_dir == want_dir:
                    out.append((*parts, name))
        return sorted(out)

    def real(self, parts: tuple[str, ...]) -> Path:
        return self.m.mountpoint.joinpath(*parts)

    def step(self) -> None:
        rng, model = self.rng, self.model
        files, dirs = self.paths(False), self.paths(True)
        kind = rng.choice(["write", "write", "truncate", "fsync", "fsync", "create", "mkdir",
                           "link", "rename", "rename", "unlink", "rmdir", "fsyncdir",
                           "fsyncdir"])
        if kind in ("write", "truncate", "fsync", "link", "unlink") and not files:
            kind = "create"
        if kind in ("write", "truncate", "fsync"):
            parts = rng.choice(files)
            node = model.resolve(parts)
            assert isinstance(node.live, bytes)
            fd = os.open(self.real(parts), os.O_RDWR)
            try:
                if kind == "write":
                    offset = rng.randrange(0, 12000)
                    data = rng.randbytes(rng.randrange(1, 6000))
                    os.pwrite(fd, data, offset)
                    old = node.live.ljust(offset, b"\0")
                    node.live = old[:offset] + data + old[offset + len(data):]
                elif kind == "truncate":
                    size = rng.randrange(0, 14000)
                    os.ftruncate(fd, size)
                    node.live = node.live[:size].ljust(size, b"\0")
                else:
                    os.fsync(fd)
                    node.durable = node.live
            finally:
                os.close(fd)
            return
        if kind == "fsyncdir":
            parts = rng.choice(dirs)
            fd = os.open(self.real(parts), os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(fd)
            os.close(fd)
            model.commit(model.resolve(parts).id)
            return
        parent_parts = rng.choice(dirs)
        parent = model.resolve(parent_parts)
        name = rng.choice(NAMES)
        target = (*parent_parts, name)
        try:
            if kind == "create":
                os.close(os.open(self.real(target), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                self.add(parent, name, model.new(is_dir=False))
            elif kind == "mkdir":
                if len(parent_parts) >= 3:
                    return
                os.mkdir(self.real(target))
                self.add(parent, name, model.new(is_dir=True))
            elif kind == "link":
                source = rng.choice(files)
                os.link(self.real(source), self.real(target))
                self.add(parent, name, model.resolve(source))
            elif kind in ("unlink", "rmdir"):
                victims = [p for p in (files if kind == "unlink" else dirs) if p]
                if not victims:
                    return
                parts = rng.choice(victims)
                (os.unlink if kind == "unlink" else os.rmdir)(self.real(parts))
                self.remove(model.resolve(parts[:-1]), parts[-1])
            else:
                source = rng.choice([p for p in self.paths(None) if p] or [None])
                if source is None:
                    return
                os.rename(self.real(source), self.real(target))
                self.rename(model.resolve(source[:-1]), source[-1], parent, name)
        except OSError:
            return  # the kernel refused it (EEXIST, ENOTEMPTY, EINVAL...): no change

    def add(self, parent: Node, name: str, node: Node) -> None:
        self.model.entries(parent, durable=False)[name] = node
        self.model.change({parent.id}, lambda: self.model.entries(parent, True).__setitem__(
            name, node))

    def remove(self, parent: Node, name: str) -> None:
        del self.model.entries(parent, durable=False)[name]
        self.model.change({parent.id}, lambda: self.model.entries(parent, True).pop(name))

    def rename(self, src: Node, src_name: str, dst: Node, dst_name: str) -> None:
        live_src, live_dst = (self.model.entries(src, False), self.model.entries(dst, False))
        node = live_src[src_name]
        if live_dst.get(dst_name) is node:
            return  # two names of one inode: rename does nothing
        del live_src[src_name]
        live_dst[dst_name] = node

        def apply() -> None:
            moved = self.model.entries(src, True).pop(src_name)
            assert moved is node
            self.model.entries(dst, True)[dst_name] = node

        self.model.change({src.id, dst.id}, apply, moves_dir=node.is_dir)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_operations_match_the_model(lossy_mount: MountFactory, seed: int) -> None:
    rng = random.Random(seed)
    m = lossy_mount()
    model = Model()
    driver = Driver(m, model, rng)
    for cycle in range(4):
        for i in range(60):
            driver.step()
            if i % 10 == 9:
                assert mount_tree(m.mountpoint) == model.tree(), f"live, cycle {cycle} step {i}"
        assert links(m.mountpoint) == model_links(model)
        m.power_off()
        model.power_cut()
        m.start()
        assert mount_tree(m.mountpoint) == model.tree(), f"after power cut {cycle}"
        assert links(m.mountpoint) == model_links(model), f"hard links after power cut {cycle}"

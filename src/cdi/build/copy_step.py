"""COPY and ADD steps: sources from a context, an earlier stage or an image; heredocs; archives.

Sources are matched the way BuildKit matches them (Go's ``filepath.Match`` per path component,
``.dockerignore`` applied to the main context and directory contexts), ``COPY <<EOF`` writes
the heredoc as a file, and ``ADD`` of a local tar archive from a context extracts it. Sources
from a URL are refused: build steps have no network.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from cdi.build.cache.snapshots import Snapshot, Snapshots
from cdi.build.context import DirectorySource, Source
from cdi.build.dockerfile import CopyInstruction, Heredoc
from cdi.build.errors import StepError
from cdi.build.expand import ExpansionError, expand
from cdi.build.fs import CopyOptions, Owner, Root, clean_relative, copy_entry, has_glob
from cdi.build.plan import BuildPlan
from cdi.build.progress import Vertex
from cdi.build.stage_state import StageState
from cdi.build.users import UserError, resolve_chown

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

#: Whether a source path (relative, ``/``-separated; is it a directory) is left out.
Exclude = Callable[[str, bool], bool]
#: What ``^(?:https?://|git@|git://)`` matches: a source that is a URL.
_URL_PREFIXES = ("http://", "https://", "git@", "git://")


class _CopyRequest:
    """A COPY/ADD instruction with its words expanded, before any file is looked at."""

    def __init__(self, plan: BuildPlan, state: StageState, instruction: CopyInstruction) -> None:
        env = state.expansion_env()
        self.env = env
        self.dest = plan.expand(instruction.dest, env, instruction)
        if not self.dest:
            raise StepError(f"{instruction.keyword} destination can not be empty")
        dest = self.dest
        self.dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        if len(instruction.sources) > 1 and not self.dest_is_dir:
            raise StepError(
                f"When using {instruction.keyword} with more than one source file, "
                "the destination must be a directory and end with a /"
            )
        self.dest_path = posixpath.normpath(posixpath.join(state.config.working_dir or "/", dest))
        self.chown = plan.expand(instruction.chown, env, instruction) if instruction.chown else ""
        self.chmod = plan.expand(instruction.chmod, env, instruction) if instruction.chmod else ""
        self.mode = _parse_chmod(self.chmod) if self.chmod else None
        self.from_name = plan.copy_from(instruction)
        heredocs = {doc.name: doc for doc in instruction.heredocs}
        #: Each source in order: a heredoc, or the expanded source path or pattern.
        self.sources: list[Heredoc | str] = []
        for raw in instruction.sources:
            heredoc_name = raw[2:].lstrip("-").strip("\"'") if raw.startswith("<<") else None
            if heredoc_name is not None and heredoc_name in heredocs:
                self.sources.append(heredocs[heredoc_name])
                continue
            value = plan.expand(raw, env, instruction)
            if value.startswith(_URL_PREFIXES):
                raise StepError(
                    f"{instruction.keyword} from a URL ({value}) is not supported: "
                    "build steps have no network"
                )
            self.sources.append(value)


class CopySteps:
    """Runs the COPY and ADD steps of a build planned by *plan*.

    *states* are the stages executed so far, by index: ``COPY --from`` reads their
    snapshots, through *snapshots*; *source_snapshot* gives the snapshot of an image source.
    """

    def __init__(
        self,
        plan: BuildPlan,
        states: Mapping[int, StageState],
        snapshots: Snapshots,
        source_snapshot: Callable[[Source], Snapshot],
    ) -> None:
        self.plan = plan
        self.states = states
        self.snapshots = snapshots
        self.source_snapshot = source_snapshot

    def prepare(
        self, state: StageState, instruction: CopyInstruction
    ) -> tuple[Any, Callable[[Vertex], None]]:
        """The COPY/ADD *instruction*'s cache material, and the action that copies.

        The material is its expanded words, its heredocs, and its sources: the content
        digests of what it copies from a context, or the cache key of the stage or image it
        copies from.
        """
        from cdi.build.cache.digest import tree_digest

        request = _CopyRequest(self.plan, state, instruction)
        sources: list[Any] = []
        origin: Any = None
        for source in request.sources:
            if isinstance(source, Heredoc):
                content = self._heredoc_content(source, request.env)
                sources.append({"heredoc": source.name, "content": content})
                continue
            kind, key = self._source_key(state, request.from_name, instruction)
            if kind != "context":
                origin = {kind: key}
                sources.append(source)
                continue
            root, _, exclude = self._source_root(state, request.from_name, instruction)
            for path in self._match_sources(root, source, True, exclude):
                host = root.resolve(path)
                relative = root.relative(host).lstrip("/")
                digest = tree_digest(
                    host, "" if relative == "." else relative, exclude=exclude, owners=False
                )
                sources.append({"path": path, "digest": digest})
        material = {
            "copy": instruction.keyword,
            "dest": request.dest,
            "dest_path": request.dest_path,
            "chown": request.chown,
            "chmod": request.chmod,
            "from": origin,
            "sources": sources,
        }
        return material, lambda vertex: self._copy(vertex, state, instruction, request)

    def _source_key(
        self, state: StageState, from_name: str | None, instruction: CopyInstruction
    ) -> tuple[str, str]:
        """("context", "") for sources read from a directory, else ("stage"|"image", the
        cache key of what they are read from)."""
        if from_name is None:
            return "context", ""
        index = self.plan.stage_ref(from_name, before=state.plan.stage.index)
        if index is not None:
            return "stage", self.states[index].snapshot.key
        source = self.plan.source(from_name, instruction)
        if source.directory() is not None:
            return "context", ""
        return "image", self.plan.source_key(source)

    def _copy(
        self,
        vertex: Vertex,
        state: StageState,
        instruction: CopyInstruction,
        request: _CopyRequest,
    ) -> None:
        """Copy the sources of the COPY/ADD *instruction* into the stage's root."""
        owner: Owner | None = None
        if request.chown:
            try:
                owner = resolve_chown(state.root, request.chown)
            except UserError as exc:
                raise StepError(str(exc)) from exc
        mode = request.mode
        dest_path = request.dest_path
        dest_is_dir = request.dest_is_dir
        sources: list[tuple[Root, str, bool]] = []  # (root, path in root, from the main context)
        written = 0
        source_root, from_context, exclude = self._source_root(
            state, request.from_name, instruction
        )
        for source in request.sources:
            if isinstance(source, Heredoc):
                target = posixpath.join(dest_path, source.name) if dest_is_dir else dest_path
                written += self._write_heredoc(
                    state,
                    source,
                    self._heredoc_content(source, request.env),
                    target,
                    CopyOptions(owner=owner, mode=mode),
                )
                continue
            for path in self._match_sources(source_root, source, from_context, exclude):
                sources.append((source_root, path, from_context))
        if len(sources) + written > 1:
            # Several files matched one pattern: the destination can only be a directory.
            dest_is_dir = True
        for root, path, from_context in sources:
            host = root.resolve(path)
            options = CopyOptions(
                owner=owner if owner is not None else (Owner(0, 0) if from_context else None),
                mode=mode,
                exclude=exclude if from_context else None,
            )
            relative = root.relative(host).lstrip("/")
            if (
                instruction.is_add
                and from_context
                and host.is_file()
                and not host.is_symlink()
                and _is_archive(host)
            ):
                self._extract(host, state.root, dest_path)
                continue
            if host.is_dir():
                copy_entry(
                    host,
                    state.root,
                    dest_path,
                    options,
                    contents_only=True,
                    relative="" if relative == "." else relative,
                )
                continue
            target = dest_path
            resolved_dest = state.root.resolve(dest_path)
            if dest_is_dir or (resolved_dest.is_dir()):
                # The name is the source's as written: a link keeps its own name.
                target = posixpath.join(
                    state.root.relative(resolved_dest), posixpath.basename(path)
                )
            copy_entry(host, state.root, target, options, relative=relative)
        vertex.status(f"{len(sources) + written} sources copied")

    def _source_root(
        self, state: StageState, from_name: str | None, instruction: CopyInstruction
    ) -> tuple[Root, bool, Exclude | None]:
        """Where the sources are read from, whether that is the main context, its filter."""
        if from_name is None:
            main = self.plan.main
            return main.root, True, (main.excludes if main.ignore else None)
        index = self.plan.stage_ref(from_name, before=state.plan.stage.index)
        if index is not None:
            return self.snapshots.view(self.states[index].snapshot), False, None
        source = self.plan.source(from_name, instruction)
        directory = source.directory()
        if directory is not None:
            ignore = source.ignore if isinstance(source, DirectorySource) else None
            return Root(directory), True, (ignore.excludes if ignore else None)
        return self.snapshots.view(self.source_snapshot(source)), False, None

    def _match_sources(
        self, root: Root, value: str, from_context: bool, exclude: Exclude | None
    ) -> list[str]:
        """The paths in *root* that source *value* names (glob patterns expanded)."""
        cleaned_raw = posixpath.normpath(value)
        if from_context and (cleaned_raw == ".." or cleaned_raw.startswith("../")):
            raise StepError(f"forbidden path outside the build context: {value}")
        relative = clean_relative(value)
        if not has_glob(relative):
            host = root.resolve(relative)
            if not os.path.lexists(host) or (
                exclude is not None and relative != "." and exclude(relative, host.is_dir())
            ):
                shown = "/" if relative == "." else "/" + relative
                raise StepError(f'failed to compute cache key: "{shown}": not found')
            return [relative]
        matches = [""]
        for part in relative.split("/"):
            next_matches = []
            for prefix in matches:
                directory = root.resolve(prefix or ".")
                if not has_glob(part):
                    candidate = f"{prefix}/{part}" if prefix else part
                    if os.path.lexists(root.resolve(candidate)):
                        next_matches.append(candidate)
                    continue
                if not directory.is_dir():
                    continue
                for entry in sorted(os.listdir(directory)):
                    if _glob_match(part, entry):
                        next_matches.append(f"{prefix}/{entry}" if prefix else entry)
            matches = next_matches
        if exclude is not None:
            matches = [m for m in matches if not exclude(m, root.resolve(m).is_dir())]
        if not matches:
            raise StepError("no source files were specified")
        return matches

    def _heredoc_content(self, doc: Heredoc, env: Mapping[str, str]) -> str:
        """A ``COPY <<EOF`` document's text: expanded, unless its name was quoted."""
        if doc.quoted:
            return doc.content
        try:
            return expand(doc.content, env, escape=self.plan.dockerfile.escape, quotes=False)
        except ExpansionError as exc:
            raise StepError(str(exc)) from exc

    def _write_heredoc(
        self, state: StageState, doc: Heredoc, content: str, target: str, options: CopyOptions
    ) -> int:
        """Write a ``COPY <<EOF`` file with *content* at *target*."""
        owner, mode = options.owner, options.mode
        parent = state.root.mkdirs(posixpath.dirname(target) or "/", owner=owner)
        host = parent / posixpath.basename(target)
        if host.is_symlink() or host.exists():
            if host.is_dir() and not host.is_symlink():
                host = host / doc.name
            else:
                host.unlink()
        fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        owner = owner or Owner(0, 0)
        os.lchown(host, owner.uid, owner.gid)
        os.chmod(host, mode if mode is not None else 0o644)
        return 1

    def _extract(self, archive_path: Path, root: Root, dest: str) -> None:
        root.mkdirs(dest)
        scratch = Root(root.resolve(dest))
        from cdi.build.layers import apply_layer  # tarfile: only ADD of an archive needs it

        with open(archive_path, "rb") as handle:
            apply_layer(handle, scratch, whiteouts=False)


def _parse_chmod(value: str) -> int:
    if re.fullmatch(r"[0-7]{3,4}", value):
        return int(value, 8)
    raise StepError(f"invalid chmod parameter: {value!r}: only octal modes are supported")


def _glob_match(pattern: str, name: str) -> bool:
    import fnmatch

    # Go's filepath.Match: no special meaning for a leading dot, '*' stays in one component.
    return fnmatch.fnmatchcase(name, pattern)


def _is_archive(path: Path) -> bool:
    import tarfile  # only ADD asks (COPY never unpacks)

    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False

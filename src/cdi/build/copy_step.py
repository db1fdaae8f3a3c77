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

from cdi.build.context import DirectorySource
from cdi.build.dockerfile import CopyInstruction, Heredoc
from cdi.build.errors import StepError
from cdi.build.expand import ExpansionError, expand
from cdi.build.fs import CopyOptions, Owner, Root, clean_relative, copy_entry, has_glob
from cdi.build.plan import BuildPlan
from cdi.build.progress import Vertex
from cdi.build.stage_state import StageState
from cdi.build.users import UserError, resolve_chown

#: Whether a source path (relative, ``/``-separated; is it a directory) is left out.
Exclude = Callable[[str, bool], bool]
#: What ``^(?:https?://|git@|git://)`` matches: a source that is a URL.
_URL_PREFIXES = ("http://", "https://", "git@", "git://")


class CopySteps:
    """Runs the COPY and ADD steps of a build planned by *plan*.

    *states* are the stages executed so far, by index: ``COPY --from`` reads their roots.
    """

    def __init__(self, plan: BuildPlan, states: Mapping[int, StageState]) -> None:
        self.plan = plan
        self.states = states
        #: ``id()`` of a source that is not a directory -> where it was unpacked.
        self.source_roots: dict[int, Root] = {}

    def copy(self, vertex: Vertex, state: StageState, instruction: CopyInstruction) -> None:
        """Copy the sources of the COPY/ADD *instruction* into the stage's root."""
        env = state.expansion_env()
        dest = self.plan.expand(instruction.dest, env, instruction)
        if not dest:
            raise StepError(f"{instruction.keyword} destination can not be empty")
        workdir = state.config.working_dir or "/"
        dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        if len(instruction.sources) > 1 and not dest_is_dir:
            raise StepError(
                f"When using {instruction.keyword} with more than one source file, "
                "the destination must be a directory and end with a /"
            )
        dest_path = posixpath.normpath(posixpath.join(workdir, dest))
        owner: Owner | None = None
        if instruction.chown:
            try:
                owner = resolve_chown(
                    state.root, self.plan.expand(instruction.chown, env, instruction)
                )
            except UserError as exc:
                raise StepError(str(exc)) from exc
        mode = (
            _parse_chmod(self.plan.expand(instruction.chmod, env, instruction))
            if instruction.chmod
            else None
        )
        from_name = self.plan.copy_from(instruction)
        heredocs = {doc.name: doc for doc in instruction.heredocs}
        sources: list[tuple[Root, str, bool]] = []  # (root, path in root, from the main context)
        written = 0
        source_root, from_context, exclude = self._source_root(state, from_name, instruction)
        for raw in instruction.sources:
            heredoc_name = raw[2:].lstrip("-").strip("\"'") if raw.startswith("<<") else None
            if heredoc_name is not None and heredoc_name in heredocs:
                target = posixpath.join(dest_path, heredoc_name) if dest_is_dir else dest_path
                written += self._write_heredoc(
                    state, heredocs[heredoc_name], target, CopyOptions(owner=owner, mode=mode), env
                )
                continue
            value = self.plan.expand(raw, env, instruction)
            if value.startswith(_URL_PREFIXES):
                raise StepError(
                    f"{instruction.keyword} from a URL ({value}) is not supported: "
                    "build steps have no network"
                )
            for path in self._match_sources(source_root, value, from_context, exclude):
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
            return self.states[index].root, False, None
        source = self.plan.source(from_name, instruction)
        directory = source.directory()
        if directory is not None:
            ignore = source.ignore if isinstance(source, DirectorySource) else None
            return Root(directory), True, (ignore.excludes if ignore else None)
        key = id(source)
        if key not in self.source_roots:
            root = Root(self.plan.workdir / f"source-{len(self.source_roots)}")
            os.mkdir(root.path)
            source.unpack(root, lambda _line: None)
            self.source_roots[key] = root
        return self.source_roots[key], False, None

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

    def _write_heredoc(
        self,
        state: StageState,
        doc: Heredoc,
        target: str,
        options: CopyOptions,
        env: Mapping[str, str],
    ) -> int:
        """Write a ``COPY <<EOF`` file (expanded unless its name was quoted) at *target*."""
        owner, mode = options.owner, options.mode
        content = doc.content
        if not doc.quoted:
            try:
                content = expand(content, env, escape=self.plan.dockerfile.escape, quotes=False)
            except ExpansionError as exc:
                raise StepError(str(exc)) from exc
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

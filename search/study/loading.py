"""Study file → :class:`Study`: YAML parsing, ``--set`` overrides, readable validation errors and the checks that
touch the file system (preflight). Every error names the YAML field it comes from
(``mixtures[3].ratios: sums to 0.9, must sum to 1``).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from search.study.study import Study
from training.errors import ConfigError, PolymixError


def _is_branch(part) -> bool:
    """A location part naming a union's branch (``constrained-int``, ``dict[str,...]``), not a field."""
    return isinstance(part, str) and part.startswith(("function-", "literal[", "int", "dict[", "constrained-", "list["))


def _format_location(location: tuple) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _is_branch(part):
            name = str(part) if str(part).isprintable() else repr(part)  # a key like "\r" must not break the line
            text += f".{name}" if text else name
    return text


def _format_errors(error: ValidationError, source: str) -> str:
    lines, branches = [], set()
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against the study schema (README)"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "finite_number":
            message = "not a finite number (NaN and ±inf are refused); give a finite value"
        where = _format_location(item["loc"])
        if any(_is_branch(part) for part in item["loc"]):  # a union (count or per-task counts): its first branch's
            if where in branches:                         # complaint is the one that fits the value given
                continue
            branches.add(where)
        # Cross-field checks (study level) already name their fields, one problem per line.
        lines.extend(f"{source}: {where + ': ' if where else ''}{line}" for line in message.splitlines())
    return "\n".join(dict.fromkeys(lines))  # a union type reports the same problem once per branch


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """``--set train.lr=2e-5`` → raw["train"]["lr"] = 2e-5; ``--set models.0.path=…`` indexes a list (values
    parsed as YAML)."""
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {override!r}: write KEY.PATH=VALUE, e.g. --set train.lr=2e-5")
        node, previous = raw, ""
        *parents, leaf = key.split(".")
        for part in [*parents, leaf]:
            if isinstance(node, list) and not (part.isdigit() and int(part) < len(node)):
                raise ConfigError(f"--set {override!r}: {part} is not an index of that list (0 to {len(node) - 1})")
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {override!r}: {previous} is not a section")
            if part is leaf:
                break
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
            previous = part
        node[int(leaf) if isinstance(node, list) else leaf] = yaml.safe_load(value)
    return raw


def parse_study(raw: object, source: str = "<study>") -> Study:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the study must be a YAML mapping with keys name, tasks, models, mixtures, ...")
    try:
        return Study.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source)) from None


MAX_STUDY_BYTES = 1_000_000  # the 220-run study is 5 KB; a larger file is a wrong file or a generated accident
MAX_DEPTH = 12  # the deepest a study nests (search.space.<param>.<kind>: [...]) is 5 levels
MAX_VALUES = 100_000  # keys and values once aliases are expanded: the 220-run study has ~1,000


class StudyLoader(yaml.SafeLoader):
    """YAML's safe loader, stricter where a study file's mistakes would otherwise pass silently or blow up: a key
    given twice (YAML keeps the last, so a typo'd repeat overrides the first) and nesting deeper than any study has.
    Aliases (``*all`` for a list given once) stay, bounded by :func:`check_expansion`."""

    def compose_node(self, parent, index):
        depth = getattr(self, "_depth", 0)
        if depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise ConfigError(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels; a study is at most "
                              "5 levels deep (see configs/)")
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth

    def construct_mapping(self, node, deep=False):
        first_line: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                earlier = first_line.setdefault(key, line)
            except TypeError:  # an unhashable key ([a, b]: 1): YAML's own error says so
                break
            if earlier != line:
                raise ConfigError(f"line {line}: duplicate key {key!r} (first at line {earlier}); keep one of them")
        return super().construct_mapping(node, deep)


def check_expansion(node: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past MAX_VALUES values or MAX_DEPTH levels (ten lines of nested
    aliases make 10^9 values: the "billion laughs"), or refer to themselves. Each node is counted once."""
    counted: dict[int, tuple[int, int] | None] = {}  # id → (values, height) once counted; None while being counted

    def count(node: yaml.Node, level: int) -> tuple[int, int]:
        line = node.start_mark.line + 1
        if id(node) in counted:
            if counted[id(node)] is None:
                raise ConfigError(f"line {line}: an alias refers to the value that contains it; write the value out")
            values, height = counted[id(node)]
        else:
            if level > MAX_DEPTH:  # (before descending: the recursion stays within MAX_DEPTH calls)
                height = MAX_DEPTH
            else:
                counted[id(node)] = None
                children = ([] if isinstance(node, yaml.ScalarNode) else node.value if isinstance(node, yaml.SequenceNode)
                            else [part for pair in node.value for part in pair])
                sized = [count(child, level + 1) for child in children]
                values, height = 1 + sum(v for v, _ in sized), 1 + max((h for _, h in sized), default=0)
                if values > MAX_VALUES:
                    raise ConfigError(f"line {line}: its aliases expand to more than {MAX_VALUES:,} values; write the "
                                      "values out")
                counted[id(node)] = (values, height)
        if level + height - 1 > MAX_DEPTH:
            raise ConfigError(f"line {line}: its aliases nest it deeper than {MAX_DEPTH} levels; write the values out")
        return values, height

    count(node, 1)


def read_yaml(path: Path):
    """The study file's YAML, or a one-line ConfigError naming the file, the line and the fix."""
    size = path.stat().st_size
    if size > MAX_STUDY_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a study file is at most {MAX_STUDY_BYTES:,} (is this the study?)")
    loader = StudyLoader(path.read_text(encoding="utf-8"))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node)
        return loader.construct_document(node)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    finally:
        loader.dispose()


def load_study(path: str | Path, overrides: list[str] = ()) -> Study:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: study file not found; pass the path of a study YAML such as configs/smoke.yaml")
    try:
        raw = read_yaml(path)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the study file as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{where} ({getattr(error, 'problem', error)}); fix the syntax") from None
    if isinstance(raw, dict):
        raw = apply_overrides(raw, list(overrides))
    return parse_study(raw, str(path))


def preflight(study: Study, source: str = "<study>") -> None:
    """Checks that touch the file system (models, data), still before any Ray job starts."""
    from training.models import check_model_source

    for index, model in enumerate(study.models):
        if model.path is not None:
            try:
                check_model_source(model.path)
            except PolymixError as error:
                raise ConfigError(f"{source}: models[{index}].path: {error}") from None
    if study.data.path is not None and not Path(study.data.path).is_dir():
        raise ConfigError(f"{source}: data.path: {study.data.path} is not a directory; give a directory laid out as "
                          "{task}/{lang}/{split}.jsonl, or remove data.path to use the generated sample data")

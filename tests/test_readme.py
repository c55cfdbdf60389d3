"""The README's commands and Python example name only what exists: every `vidstyle COMMAND ...` in
its shell blocks and inline code names a command and only that command's options, every `--option`
in its prose is some command's, every name and keyword argument its Python block uses is the
library's, and every file it links to is in the repository; and every default a command's --help
states is the parser's; and its exit statuses are those real runs end with. (A renamed option or keyword left the
README showing one a user then typed and got "unrecognized arguments" for; nothing here runs a
network: the commands themselves are exercised by the other test files.)
"""
from __future__ import annotations

import argparse
import ast
import enum
import importlib
import inspect
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: options the README names that belong to other programs (`docker --memory`, `pip install --no-deps`)
OTHER_PROGRAMS_OPTIONS = {"--memory", "--no-deps"}


def _commands():
    from vidstyle.cli import build_parser

    return build_parser()._subparsers._group_actions[0].choices


def readme_commands(text: str, blocks_only: bool = False) -> list[str]:
    """Each `vidstyle ...` command line of ``text``: the lines of its ```sh blocks (continuations
    joined, comments cut) and (unless ``blocks_only``) its inline code spans."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("vidstyle "):
                found.append(line)
    if not blocks_only:
        found += [span for span in re.findall(r"`(vidstyle [^`]*)`", text) if "..." not in span]
    return found


def command_problems(text: str) -> list[str]:
    """What is wrong with ``text``'s commands: an unknown command, or an option its command lacks
    (spelt out in full: argparse would take an abbreviation, a reader should not see one)."""
    commands, problems = _commands(), []
    for line in readme_commands(text):
        words = [w for w in shlex.split(line)[1:] if w != "--debug"]
        if not words or words[0] not in commands:
            problems.append(f"no such command: {line}")
            continue
        options = commands[words[0]]._option_string_actions
        problems += [f"{word} is not an option of vidstyle {words[0]}: {line}" for word in words[1:]
                     if word.startswith("-") and word.split("=")[0] not in options
                     and not re.fullmatch(r"-\d.*", word)]  # (a negative number is a value)
    return problems


def prose_option_problems(text: str) -> list[str]:
    """Options named anywhere in ``text`` that no command (nor vidstyle itself: --version) has."""
    from vidstyle.cli import build_parser

    known = set().union(*(p._option_string_actions for p in _commands().values()), OTHER_PROGRAMS_OPTIONS,
                        build_parser()._option_string_actions)
    named = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", text))
    return sorted(f"{option} is no command's option" for option in named - known)


class _Instance:
    """What a name bound to ``cls(...)`` holds, for attribute checks."""

    def __init__(self, cls):
        self.cls = cls


def _class_attributes(cls) -> set[str]:
    names = set(dir(cls)) | ({"name", "value"} if issubclass(cls, enum.Enum) else set())
    for klass in cls.__mro__:
        names |= set(getattr(klass, "__annotations__", {}))  # dataclass fields, declared attributes
    return names


def _keyword_options(function) -> set[str] | None:
    """The names the ``**options`` of the library's stylize functions take (each config's fields);
    None for another function."""
    from vidstyle import pipeline

    video = pipeline._STYLIZE_FIELDS | pipeline._ENCODE_FIELDS | set(pipeline._NEGATED_OPTIONS)
    return {pipeline.stylize_video: video, pipeline.stylize_files: video,
            pipeline.stylize_image: pipeline._STYLIZE_FIELDS}.get(function)


def python_problems(source: str) -> list[str]:
    """Names and keyword arguments ``source`` (a README Python block) uses that the library lacks.
    Names are followed from `import vidstyle`, `from vidstyle... import ...` and `x = Class(...)`;
    what a function returns is not followed."""
    problems: list[str] = []
    names: dict[str, object] = {}

    def resolve(node):
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            if base is None:
                return None
            if isinstance(base, _Instance):
                if node.attr not in _class_attributes(base.cls):
                    problems.append(f"line {node.lineno}: {base.cls.__name__} has no attribute {node.attr}")
                    return None
                value = inspect.getattr_static(base.cls, node.attr, None)
                return getattr(base.cls, node.attr) if inspect.isfunction(value) else None
            if not hasattr(base, node.attr):
                problems.append(f"line {node.lineno}: {getattr(base, '__name__', base)} has no attribute {node.attr}")
                return None
            return getattr(base, node.attr)
        if isinstance(node, ast.Call):
            target = resolve(node.func)
            if target is None or not callable(target):
                return None
            try:
                params = inspect.signature(target).parameters.values()
            except (TypeError, ValueError):
                return None
            accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            options = _keyword_options(target)
            if options is not None or not any(p.kind is p.VAR_KEYWORD for p in params):
                accepted |= options or set()
                problems.extend(f"line {node.lineno}: {target.__qualname__}() takes no keyword {kw.arg}"
                                for kw in node.keywords if kw.arg is not None and kw.arg not in accepted)
            return _Instance(target) if inspect.isclass(target) else None
        return None

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "vidstyle":
                    module = importlib.import_module(alias.name)
                    names[alias.asname or "vidstyle"] = module if alias.asname else importlib.import_module("vidstyle")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "vidstyle":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    problems.append(f"line {node.lineno}: {node.module} has no {alias.name}")
                else:
                    names[alias.asname or alias.name] = getattr(module, alias.name)
    # assignments in order, so that a name is bound before the lines after it use it
    for statement in ast.parse(source).body:
        for node in ast.walk(statement):
            if isinstance(node, (ast.Call, ast.Attribute)) and not _inside_checked(node, statement):
                resolve(node)
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            names[targets[0].id] = resolve(statement.value)
    return sorted(set(problems))


def _inside_checked(node, statement) -> bool:
    """Whether ``node`` is part of a larger call or attribute of ``statement`` (resolved with it)."""
    for parent in ast.walk(statement):
        for child in ast.iter_child_nodes(parent):
            if child is node and isinstance(parent, (ast.Call, ast.Attribute)) and (
                    getattr(parent, "func", None) is node or getattr(parent, "value", None) is node):
                return True
    return False


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_readme_commands_name_existing_commands_and_their_own_options():
    text = README.read_text()
    assert len(readme_commands(text)) > 40  # the blocks and spans were found
    assert command_problems(text) == []


def test_the_readme_command_lines_parse_whole(capsys):
    """The shell blocks' lines are whole commands (the inline spans may be parts of one): each
    parses, its values too (`--style-at 1:05=the_scream`, `--crossfade 4`)."""
    from vidstyle.cli import build_parser

    parser, failed = build_parser(), []
    for line in readme_commands(README.read_text(), blocks_only=True):
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit:
            failed.append(f"{line}: {capsys.readouterr().err.strip()}")
    assert failed == []


def test_every_option_the_readme_names_exists():
    assert prose_option_problems(README.read_text()) == []


def help_default_problems(parser) -> list[str]:
    """Where an option's --help says a default ("(default 18)", "default: auto") other than the one
    the parser gives it. Only options with a default of their own (None is settled later, by the
    code the help names) and only a stated value of the option's kind: a number for a number, one
    of its choices where it has them (live's "auto (default: ONNX Runtime ...)" says what auto does)."""
    problems = []
    for action in parser._actions:
        default, text = action.default, action.help
        if not text or text == argparse.SUPPRESS or default is None or isinstance(default, (bool, list)):
            continue
        for said in re.findall(r"\bdefault:? ([^\s;,)]+)", text):
            said = said.rstrip(":.")
            if isinstance(default, (int, float)):
                right = re.fullmatch(r"-?[\d.]+(e-?\d+)?", said) is None or float(said) == default
            else:
                right = said == default or (action.choices is not None and said not in action.choices)
            if not right:
                problems.append(f"{parser.prog} {'/'.join(action.option_strings)}: the help says default {said}, "
                                f"the parser gives {default!r}")
    return problems


def test_every_default_a_commands_help_states_is_the_parsers():
    """`vidstyle COMMAND --help` states the defaults users go by: each one stated of an option
    with a default of its own is that default."""
    commands = _commands()
    assert set(commands) >= {"stylize", "live", "bench", "train", "eval", "optimize", "styles", "preview", "export"}
    assert [problem for parser in commands.values() for problem in help_default_problems(parser)] == []


def test_the_default_check_finds_a_wrong_default():
    made_up = argparse.ArgumentParser(prog="vidstyle made-up")
    made_up.add_argument("--crf", type=int, default=18, help="quality (default 23)")
    made_up.add_argument("--preset", default="medium", choices=["fast", "medium"], help="speed (default fast)")
    made_up.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    assert help_default_problems(made_up) == [
        "vidstyle made-up --crf: the help says default 23, the parser gives 18",
        "vidstyle made-up --preset: the help says default fast, the parser gives 'medium'"]


def test_the_readme_python_example_uses_names_and_keywords_that_exist():
    blocks = python_blocks(README.read_text())
    assert blocks
    assert [problem for block in blocks for problem in python_problems(block)] == []


@pytest.mark.parametrize("text, said", [
    ("```sh\nvidstyle stylize in.mp4 -o out.mp4 --style x --made-up 3\n```", "--made-up is not an option"),
    ("run `vidstyle eval a.mp4 b.mp4 --crf 3` to see", "--crf is not an option of vidstyle eval"),
    ("```sh\nvidstyle train --style a.jpg \\\n    --content d --out m.safetensors --stepz 5\n```", "--stepz"),
    ("```sh\nvidstyle stylise in.mp4 -o out.mp4\n```", "no such command"),
])
def test_the_command_check_finds_a_made_up_option_or_command(text, said):
    problems = command_problems(text)
    assert len(problems) == 1 and said in problems[0], problems


def test_the_option_check_finds_a_made_up_option_in_prose():
    assert prose_option_problems("`--temporal-strength` and `--smoothness` set it") == [
        "--smoothness is no command's option"]


@pytest.mark.parametrize("source, said", [
    ('import vidstyle\nvidstyle.stylize_video("a.mp4", "b.mp4", style="x", quality=3)\n', "takes no keyword quality"),
    ('import vidstyle\nvidstyle.stylise_video("a.mp4", "b.mp4")\n', "has no attribute stylise_video"),
    ('import vidstyle\ns = vidstyle.Stylizer("x")\nfor out in s.stylize_iter(frames, batchsize=4):\n    ...\n',
     "takes no keyword batchsize"),
    ('import vidstyle\ns = vidstyle.Stylizer("x")\ns.set_style_mix({})\n', "Stylizer has no attribute set_style_mix"),
    ('from vidstyle.preview import contact_sheet\n', "vidstyle.preview has no contact_sheet"),
    ('import vidstyle\nc = vidstyle.StylizeConfig(batches=2)\n', "takes no keyword batches"),
    # **options: a config's fields, and no_audio/no_subtitles, of which a still image takes none
    ('import vidstyle\nvidstyle.stylize_image("a.jpg", "b.png", style="x", no_subtitles=True)\n', "no_subtitles"),
])
def test_the_python_check_finds_a_made_up_name_or_keyword(source, said):
    problems = python_problems(source)
    assert len(problems) == 1 and said in problems[0], problems


def test_every_file_the_readme_links_or_names_is_in_the_repository():
    text = README.read_text()
    linked = {target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)
              if not re.match(r"[a-z]+:|#", target)}
    named = {span for span in re.findall(r"`((?:samples|benchmarks|vidstyle|tests)/[\w./-]+)`", text)
             if "*" not in span}
    assert linked and named
    assert sorted(path for path in linked | named if not (ROOT / path).exists()) == []


def test_every_library_name_the_readme_spells_out_exists():
    """`vidstyle.memory.keep_freed_memory()`, `vidstyle.flow.RAFTFlow` ... in the prose."""
    text = README.read_text()
    spelt = set(re.findall(r"`(vidstyle(?:\.\w+)+)(?:\(\))?`", text))
    assert spelt
    assert [problem for name in sorted(spelt) for problem in python_problems(f"import vidstyle\n{name}\n")] == []


def test_the_readme_layout_names_every_module():
    """The Development section's layout: each module of the package is named there."""
    text = README.read_text().split("## Development", 1)[1]
    modules = {p.name for p in (ROOT / "vidstyle").iterdir()
               if (p.suffix == ".py" and not p.name.startswith("__")) or (p / "__init__.py").is_file()}
    assert sorted(m for m in modules if f"`{m}`" not in text and f"`{m}/`" not in text
                  and f"`vidstyle/{m}`" not in text) == []


def layout_names(text: str) -> list[str]:
    """The modules and packages the README's layout names (`pipeline.py`, `io/`, `vidstyle/cli.py`)."""
    layout = text.split("\n* Layout:", 1)[1].split("\n* ", 1)[0]
    return re.findall(r"`((?:vidstyle/)?\w+(?:\.py|/))`", layout)


def test_every_module_the_readme_layout_names_exists():
    """The other way round: a module the layout names is the package's own or one of its
    subpackages' (`probe.py` is vidstyle/io/probe.py), not one since renamed or removed."""
    names = layout_names(README.read_text())
    assert len(names) > 30
    package = ROOT / "vidstyle"
    assert [name for name in names if not (ROOT / name).exists() and not (package / name).exists()
            and not any(package.glob(f"*/{name}"))] == []


def makefile_variables(text: str) -> dict[str, str]:
    """The Makefile's ``NAME ?= value`` settings."""
    return dict(re.findall(r"^(\w+) *\?= *(.*?) *$", text, re.M))


def makefile_recipe(text: str, target: str) -> list[str]:
    """The command lines of ``target``'s recipe, variables given their defaults."""
    variables = makefile_variables(text)
    block = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)*)", text, re.M).group(1)
    return [re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), line.strip())
            for line in block.splitlines()]


def test_the_readme_install_commands_without_make_are_the_makefiles():
    """Development's "Without `make`" commands install what `make install` installs: the same
    torch pin, extras and loss-network packages (a pin raised in one and not the other left a
    reader of the README on another torch than the tests ran with)."""
    text = " ".join(README.read_text().split("* Without `make`:", 1)[1].split("\n* ", 1)[0].split())
    said = re.findall(r"`(pip install [^`]*)`", text)
    installed = [re.sub(r"^\$\(PY\) -m (pip install) -q ", r"\1 ", line)
                 for line in makefile_recipe((ROOT / "Makefile").read_text(), "$(VENV)/.installed")
                 if "pip install" in line]
    assert installed and said == installed


def test_the_readme_make_targets_do_what_it_says():
    """Quick start's `make demo` output, Development's `make test` (two workers, then the serial
    tests alone), `make bench`'s folder, and CI's command, which is the README's `make test`."""
    readme, makefile = README.read_text(), (ROOT / "Makefile").read_text()
    style = makefile_variables(makefile)["STYLE"]
    demo = makefile_recipe(makefile, "demo")
    assert any(f"-o out/sample_{style}.mp4 --style {style}" in line for line in demo)
    assert f"`make demo` writes `out/sample_{style}.mp4`" in readme
    test = [line for line in makefile_recipe(makefile, "test") if "pytest" in line]
    assert len(test) == 2 and "-n 2" in test[0] and '-m "not serial"' in test[0] and test[1].endswith("-m serial")
    assert "on two pytest-xdist workers, then the few tests marked `serial`" in " ".join(readme.split())
    assert any("--out out/bench " in line for line in makefile_recipe(makefile, "bench"))
    assert "`make bench` runs it on the sample clip into `out/bench/`" in " ".join(readme.split())
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]
    assert "make test   # installs into .venv, runs the test suite" in readme


def exit_status_table(text: str) -> dict[str, str]:
    """The README's "Exit status" table: each status as written ("0", "128 + N") -> when."""
    section = text.split("\n## Exit status\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| *([^|]+?) *\| *(.+?) *\|$", section, re.M)
    return {status: when for status, when in rows if status not in ("status", "---:")}


def _caught_signals(pid: int) -> int:
    """The signals process ``pid`` has a handler for (Linux's /proc/PID/status SigCgt mask)."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads a child's signal handlers in /proc (Linux)")
def test_the_exit_status_table_is_what_real_runs_end_with(tmp_path):
    """Each status of the README's table, from a real `python -m vidstyle` (none runs a network)."""
    import os
    import signal
    import subprocess
    import sys

    from processes import foreground_signals
    from videos import make_video

    table = exit_status_table(README.read_text())
    assert list(table) == ["0", "1", "2", "130", "128 + N", "141"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    vidstyle = [sys.executable, "-m", "vidstyle"]

    def status(*args: str, **kw) -> int:
        streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **kw}
        return subprocess.run([*vidstyle, *args], cwd=tmp_path, env=env, timeout=120, **streams).returncode

    assert "`--version`" in table["0"] and status("--version") == 0
    assert "one line `vidstyle: error: ...`" in table["1"]
    assert status("stylize", "missing.mp4", "-o", "out.mp4", "--style", "light_mondrian") == 1
    assert "unknown command or option" in table["2"] and "no command at all" in table["2"]
    assert status("stylize", "--bogus") == status("stylze") == status() == 2
    reader, writer = os.pipe()
    os.close(reader)  # the reader gone before the listing is written
    try:
        assert status("styles", stdout=writer) == 141 and "went away" in table["141"]
    finally:
        os.close(writer)
    make_video(tmp_path / "in.mp4", frames=4, size=(64, 48))
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        assert str(code) in table or f"{code} for {signal.Signals(signum).name}" in table["128 + N"]
        proc = subprocess.Popen([*vidstyle, "stylize", "in.mp4", "-o", "out.mp4", "--style", "light_mondrian"],
                                cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
                                preexec_fn=foreground_signals)
        try:  # sent once vidstyle handles kills (its start-up), Ctrl-C's status too: not Python's own
            while not _caught_signals(proc.pid) & (1 << (signal.SIGTERM - 1)):
                assert proc.poll() is None, proc.stderr.read()
            proc.send_signal(signum)
            assert proc.wait(timeout=60) == code, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not (tmp_path / "out.mp4").exists()

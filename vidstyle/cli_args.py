"""Argument types and option groups shared by every subcommand's parser (one home for them)."""
from __future__ import annotations

import argparse
import ast
import logging
import math
import re
import sys

from vidstyle.config import MAX_OPSET, MAX_SCALE, MIN_OPSET, MIN_SIDE, PRECISIONS


#: each command's line in `vidstyle --help`: the one home of these texts, as the command list is
#: printed without importing the commands' modules (most import torch, which takes seconds)
COMMAND_HELP = {
    "stylize": "stylize a video file, a folder of numbered frames or a still image",
    "styles": "list bundled styles, or describe model files",
    "preview": "a contact sheet of styles on frames of your video, to choose one",
    "train": "train a style network from a painting",
    "optimize": "stylize one photo by optimisation (Gatys et al., slow quality reference)",
    "eval": "measure temporal consistency (warping error) and style quality of a stylized video",
    "live": "stylize a webcam live",
    "bench": "measure frames per second (networks, pipeline, peers)",
    "export": "export a style network to ONNX",
}

def _number(cast, test, what: str):
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            # (1e3 and 2.5 are numbers: an int option says which kind it takes)
            kind = "a whole number" if cast is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    parse.__name__ = f"{cast.__name__} ({what})"  # argparse names the type in its error messages
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "0 or more")
positive_float = _number(float, lambda v: 0 < v < math.inf, "a finite number > 0")
non_negative_float = _number(float, lambda v: 0 <= v < math.inf, "a finite number >= 0")
unit_float = _number(float, lambda v: 0.0 <= v <= 1.0, "between 0 and 1")
#: --downscale, preview's --width: a picture's side, said as the library says it
side_pixels = _number(int, lambda v: v >= MIN_SIDE, f"a whole number of pixels, at least {MIN_SIDE}")
#: --scale: the network's size as a multiple of the input's, the library's own bound
scale_factor = _number(float, lambda v: 0 < v <= MAX_SCALE, f"a number > 0 and at most {MAX_SCALE}")


def int_between(low: int, high: int, unit: str):
    """An argparse type: a whole number from ``low`` to ``high`` ``unit`` (said "2 to 10000 frames")."""
    return _number(int, lambda v: low <= v <= high, f"{low} to {high} {unit}")


#: export's --opset: one the export writes
opset = _number(int, lambda v: MIN_OPSET <= v <= MAX_OPSET, f"an ONNX opset, {MIN_OPSET} to {MAX_OPSET}")

#: --threads: more than a few hundred cannot help, and tens of thousands fail inside the runtimes
thread_count = _number(int, lambda v: 0 < v <= 256, "1 to 256")


def clock_time(text: str) -> float:
    """Argument type: a time in seconds, ``90``, ``1:30`` or ``1:02:03.5`` (vidstyle.timeline.parse_clock)."""
    from vidstyle.timeline import parse_clock

    try:
        return parse_clock(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a time (seconds such as 90.5, or 1:30.5 or 1:02:03), "
                                         f"got {text!r}") from None


clock_time.__name__ = "time"


def positive_clock_time(text: str) -> float:
    """:func:`clock_time`, above 0 (a duration)."""
    value = clock_time(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


positive_clock_time.__name__ = "duration"


def style_change(text: str):
    """Argument type: ``TIME=STYLE`` (vidstyle.timeline.parse_style_change)."""
    from vidstyle.errors import VidstyleError
    from vidstyle.timeline import parse_style_change

    try:
        return parse_style_change(text)
    except VidstyleError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


style_change.__name__ = "style change"


def sequence_fps(text: str):
    """Argument type: a frame rate (``24``, ``29.97``, ``30000/1001``), see vidstyle.io.sequence."""
    from vidstyle.errors import VidstyleError
    from vidstyle.io.sequence import sequence_fps as parse

    try:
        return parse(text)
    except VidstyleError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("fps must be", "must be")) from None


def path(text: str) -> str:
    """A file or folder argument: an empty one (an unset ``$OUT`` in a script) is refused rather
    than taken as the current folder, and one too long for the file system
    (vidstyle.io.files.check_path_length) before any command looks at it."""
    from vidstyle.errors import VidstyleError
    from vidstyle.io.files import check_path_length

    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (is a variable unset?)")
    try:
        check_path_length(text)
    except VidstyleError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


class Once(argparse.Action):
    """An option that takes one value, said when it is given twice rather than keeping the last in
    silence: ``--content A --content B`` beside a repeatable ``--style`` reads as two folders."""

    hint = ""  # what to do instead, added to the error (see :func:`once`)

    def __call__(self, parser, namespace, values, option_string=None):
        earlier = getattr(namespace, self.dest, None)
        if earlier is not None and earlier != values:  # the same value twice is harmless
            parser.error(f"{option_string} takes one value, given twice ({earlier} and {values})"
                         + (f"; {self.hint}" if self.hint else ""))
        setattr(namespace, self.dest, values)


def once(hint: str = "") -> type[Once]:
    """:class:`Once` whose error adds ``hint``."""
    return type("Once", (Once,), {"hint": hint})


def split_commas(text: str | None) -> list[str]:
    """The items of a comma-separated option, blanks dropped: ``"a, b,,c"`` -> ["a", "b", "c"]
    (none for None or "")."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def comma_list(text: str) -> list[str]:
    """Argument type: a comma-separated list of at least one item (:func:`split_commas`)."""
    items = split_commas(text)
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def frame_size(text: str) -> tuple[int, int]:
    """``640x480`` -> (640, 480), with argparse's one-line error for anything else."""
    from vidstyle.errors import VidstyleError
    from vidstyle.config import parse_size

    try:
        return parse_size(text)
    except VidstyleError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


frame_size.__name__ = "size"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``vidstyle stylize: error: ...``) instead of the
    whole usage block; ``--help`` still shows it."""

    _argv: list[str] = []

    def error(self, message: str):
        if message.startswith("the following arguments are required"):
            # argparse checks what is missing before what is unknown: `--stlye X` was only "--style
            # is required", as though the user had not typed it
            message += self._not_options(self._argv)
        message += self._command_guess(message)
        self.exit(2, f"{self.prog}: error: {message}{self._dashed_value_hint(message)} (see {self.prog} --help)\n")

    def _commands(self) -> dict[str, argparse.ArgumentParser]:
        """This parser's commands by name (none for a command's own parser)."""
        return next((a.choices for a in self._actions if isinstance(a, argparse._SubParsersAction)), {})

    def _not_options(self, words, guessed_only: bool = False) -> str:
        """What the error line adds for the words of ``words`` that are none of this parser's
        options: "; --stlye is not an option: did you mean --style?" each (only those with a guess
        where ``guessed_only``)."""
        return "".join(f"; {name} is not an option" + (f": did you mean {guess}?" if guess else "")
                       for name, guess in self._unknown_options(words) if guess or not guessed_only)

    def _command_guess(self, message: str) -> str:
        """`vidstyle stylise` was only "invalid choice": the command it most likely meant, as a
        mistyped option gets its own (:func:`vidstyle.errors.closest_name`); and a mistyped option
        of vidstyle's own before the word taken for the command, which argparse did not name
        (`vidstyle --debgu in.mp4`: alone, `--verison` is "unrecognized" with its guess)."""
        from vidstyle.errors import closest_name

        m = re.match(r"argument COMMAND: invalid choice: ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", message)
        if not m:
            return ""
        choice = ast.literal_eval(m[1])
        guess = closest_name(choice, list(self._commands()))
        # an unknown option with no guess here went to _misplaced_option ("goes after the command")
        before = self._argv[:self._argv.index(choice)] if choice in self._argv else self._argv
        return (f"; did you mean {guess}?" if guess else "") + self._not_options(before, guessed_only=True)

    @staticmethod
    def _option_word(parser: argparse.ArgumentParser, word: str) -> str | None:
        """The option name ``word`` gives (``--x`` of ``--x=1``), or None for a word argparse takes
        as a value or an input: ``-``, a negative number, one with a space (`"-my clip.mp4"`)."""
        if not word.startswith("-") or word == "-" or parser._negative_number_matcher.match(word) or " " in word:
            return None
        return word.split("=", 1)[0]

    @staticmethod
    def _knows(parser: argparse.ArgumentParser, name: str) -> bool:
        """Whether ``name`` is one of ``parser``'s options, as argparse takes it: abbreviated
        (``--temporal-str``), or a short one with its value joined (``-ofile``)."""
        options = parser._option_string_actions
        if name.startswith("--"):
            return any(o.startswith(name) for o in options if o.startswith("--"))
        return name[:2] in options

    def _unknown_options(self, words) -> list[tuple[str, str | None]]:
        """The option-like words among ``words`` that are none of this parser's options, even
        abbreviated, each with the option it most likely meant (found as a style name's typo is:
        case, _ for -), or None."""
        from vidstyle.errors import closest_name

        longs = [o for o in self._option_string_actions if o.startswith("--")]
        unknown = {}
        for word in words:
            if word == "--":
                break  # what follows is a value however it looks
            name = self._option_word(self, word)
            if name is not None and not self._knows(self, name):
                unknown.setdefault(name, closest_name(name, longs))
        return list(unknown.items())

    def command_at(self, words, commands) -> int | None:
        """Where in ``words`` the command is named (one of ``commands``), or None: the first word
        naming one, unless a later one does too and this one follows an option that is not
        vidstyle's own, whose value it then is (`--style train stylize in.mp4`: a style named
        train, and the command stylize), unless that command's parser (``commands`` maps names to
        parsers where they are built: vidstyle.cli.build_parser builds each command named) has it
        as a flag, which takes none (`--overwrite stylize in.mp4 -o export`: the command stylize,
        and an output folder named export). (--debug, --version and --help take no value.)"""
        named = [i for i, word in enumerate(words) if word in commands]
        for i in named[:-1]:
            option = self._option_word(self, words[i - 1]) if i else None
            joined = option is not None and ("=" in words[i - 1] or (not option.startswith("--") and len(option) > 2))
            if option is None or joined or self._knows(self, option) or self._is_flag(commands[words[i]], option):
                return i
        return named[-1] if named else None

    @staticmethod
    def _is_flag(parser, name: str) -> bool:
        """Whether ``name`` is an option of ``parser`` (a command's, when built) that takes no
        value (``--overwrite``), abbreviated as argparse takes it (``--overwr``)."""
        if not isinstance(parser, argparse.ArgumentParser):
            return False
        options = parser._option_string_actions
        actions = {id(a): a for o, a in options.items() if o == name or (name.startswith("--") and o.startswith(name))}
        action = options.get(name) or (next(iter(actions.values())) if len(actions) == 1 else None)
        return action is not None and action.nargs == 0

    def _misplaced_option(self, words) -> str | None:
        """The error line for a command's option typed before the command (`vidstyle --style x stylize
        in.mp4`), or None: argparse took its value for the command ("invalid choice: 'x'"), said
        `--style=x` was missing, or `--overwrite` unrecognized. vidstyle's own options (--debug,
        --version, --help) go there; the others belong to a command, as does `--`, which ends its
        options (`vidstyle -- stylize in.mp4` was "invalid choice: '--'")."""
        from vidstyle.errors import closest_name

        commands = self._commands()
        if not commands:
            return None
        at = self.command_at(words, commands)
        command = None if at is None else words[at]
        for word in words[:at]:
            if word == "--":  # argparse took it for the command: "invalid choice: '--'", no more
                helped = f"{self.prog} {command}" if command else self.prog
                return (f"'--' goes after the command: {self.prog} {command or 'COMMAND'} ... -- INPUT ('--' ends "
                        f"the command's options: the words after it are inputs, even those starting with '-') "
                        f"(see {helped} --help)")
            name = self._option_word(self, word)
            if name is None:
                if command is None:
                    return None  # a mistyped command (said with its guess), or an input without one
                continue  # a value
            if self._knows(self, name):
                continue
            if command is not None:
                if self._knows(commands[command], name):
                    if not name.startswith("--"):
                        name = name[:2]  # `-oout.mp4` is -o with its value joined, as argparse takes it
                    return (f"{name} goes after the command: {self.prog} {command} ... {name} ... "
                            f"(see {self.prog} {command} --help)")
            elif closest_name(name, [o for o in self._option_string_actions if o.startswith("--")]) is None:
                # no command named, so whose option it is is not known here (the commands'
                # options are built only for the command named: see vidstyle.cli.build_parser)
                return f"{name} goes after the command: {self.prog} COMMAND ... {name} ... (see {self.prog} --help)"
        return None

    def _dashed_value_hint(self, message: str) -> str:
        """argparse takes any word starting with "-" after an option for another option: `-o -x.mp4`
        is "expected one argument". Where such a word follows, say how to give it."""
        m = re.fullmatch(r"argument (\S+): expected one argument", message)
        if not m:
            return ""
        names = m[1].split("/")
        for option, value in zip(self._argv, self._argv[1:]):
            if option in names and value.startswith("-"):
                return (f"; a value starting with '-' goes after '=': {names[-1]}={value}"
                        + (f" (or ./{value} for a file)" if "." in value else ""))
        return ""

    def parse_args(self, args=None, namespace=None):
        Parser._argv = list(sys.argv[1:] if args is None else args)  # the subcommands' parsers read it too
        misplaced = self._misplaced_option(Parser._argv)
        if misplaced:
            words = Parser._argv[:Parser._argv.index("--")] if "--" in Parser._argv else Parser._argv
            if "-h" in words or "--help" in words:
                # help asked for is given, misplaced option or not (argparse would take the
                # option's value for the command): the help of the command named, else vidstyle's
                at = self.command_at(Parser._argv, self._commands())
                (self if at is None else self._commands()[Parser._argv[at]]).print_help()
                self.exit()
            self.exit(2, f"{self.prog}: error: {misplaced}\n")
        # argparse reports a command's unknown options from the top parser, which pointed at
        # `vidstyle --help`: the command's own help is where its options are
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            owner = self._commands().get(command, self)
            guesses = "".join(f"; {name}: did you mean {guess}?" for name, guess in owner._unknown_options(extras)
                              if guess)
            self.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extras)}{guesses} (see {prog} --help)\n")
        return parsed


def add_device_args(p: argparse.ArgumentParser, int8: bool = False, fp32_only: bool = False,
                    training: bool = False) -> None:
    """``--device`` and ``--precision`` (with ``int8`` for inference commands; only fp32 for
    ``fp32_only`` ones), resolved later by :mod:`vidstyle.device` and :class:`vidstyle.stylizer.Stylizer`."""
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps (default: auto = cuda, mps, cpu)")
    choices = list(PRECISIONS) + (["int8"] if int8 else [])
    if fp32_only:
        choices, text = ["auto", "fp32"], "fp32 only (auto means fp32 here)"
    elif training:  # training resolves auto differently (vidstyle.device.resolve_precision)
        text = "autocast precision (auto: fp16 on CUDA, fp32 elsewhere; bf16 on the CPU only when asked)"
    else:
        text = ("network precision (auto: fp16 autocast on CUDA, bf16 on CPUs with native bf16 such as AMX or "
                "AVX512-BF16, fp32 elsewhere" + ("; int8: CPU, convolutions quantized with ranges calibrated on "
                                                "frames of the input, compiled; fastest on CPUs with VNNI, needs "
                                                "torchao" if int8 else "") + ")")
    p.add_argument("--precision", default="auto", choices=choices, help=text)
    p.add_argument("--threads", type=thread_count,
                   help="CPU threads for the network (default: one per core); fewer keep the speed steady while "
                        "other programs load the CPU, whose threads the network's would otherwise wait for")


def add_look_args(p: argparse.ArgumentParser, keys: str = "") -> None:
    """``--style-strength`` and ``--keep-colors`` (vidstyle.stylizer.blend_style), for the commands
    that show stylized frames; ``keys`` names live's keys for them."""
    p.add_argument("--style-strength", type=unit_float, default=1.0, metavar="S",
                   help="how much of the style: 1 the network's output (default), 0 the input, linearly between"
                        + (f" ({keys[0]}/{keys[1]} change it)" if keys else ""))
    p.add_argument("--keep-colors", action="store_true",
                   help="keep the input's colours: the style's brightness and strokes, the input's hue and "
                        "saturation" + (f" ({keys[2]} toggles it)" if keys else ""))


def add_flow_backend_args(p: argparse.ArgumentParser, what: str) -> None:
    """``--flow-backend`` and ``--flow-weights`` (:func:`vidstyle.config.check_flow_backend`) for
    the commands that estimate optical flow; ``what`` says which flow."""
    p.add_argument("--flow-backend", default="dis", choices=["dis", "raft"],
                   help=f"{what}: dis (OpenCV DIS, needs no weights; default) or raft (torchvision RAFT from "
                        "--flow-weights; slow on a CPU)")
    p.add_argument("--flow-weights", metavar="FILE", type=path,
                   help="RAFT's weights: a torchvision raft_large or raft_small state dict you supply "
                        "(vidstyle downloads nothing)")


#: the --threads this process was given (None: the default), for commands that say how to run
#: again alike (the thread count changes a training run's arithmetic, so its weights)
_threads_given: int | None = None


def threads_given() -> int | None:
    """The ``--threads`` given to :func:`apply_threads`, or None when the default is in effect."""
    return _threads_given


def apply_threads(threads: int | None) -> None:
    """``--threads``: PyTorch's intra-op threads (ONNX Runtime sessions follow it, see
    vidstyle.export.session_options); None leaves the default, one per core. Every command applies
    it in one place (vidstyle.cli) before it builds a network."""
    global _threads_given
    _threads_given = threads or None
    if threads:
        import torch

        from vidstyle.device import usable_cores

        cores = usable_cores()
        if threads > cores:  # threads that take turns on the cores wait for each other (2.6x slower at 99 on 2)
            logging.getLogger("vidstyle").warning("--threads %d is more than the %d core(s) this process may use: "
                                                  "slower, not faster", threads, cores)
        torch.set_num_threads(threads)

"""User-facing errors.

Anything the user can fix (a missing file, a bad option, a corrupt model) is raised as
:class:`VidstyleError`; the command line prints its message as one line on stderr and exits
non-zero, without a traceback unless ``--debug`` is given.
"""


class VidstyleError(Exception):
    """An error caused by input the user controls; its message is shown as is."""

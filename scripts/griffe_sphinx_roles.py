"""Griffe extension for the docs site: Sphinx roles in docstrings become code spans.

The docstrings cross-reference with reST roles (:class:`~pagan_lightning.module.PAGAN`), which
Markdown would print verbatim. Each role becomes inline code: the last name with a leading
``~`` (as Sphinx shows it), the whole target otherwise.
"""

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)

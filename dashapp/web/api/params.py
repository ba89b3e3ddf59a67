"""Query-string parameters of the JSON routes, read from the request through ``dashapp.payloads.params``
(the one parser): a bad value is a BadParameter (a 400 naming it)."""

from __future__ import annotations

from flask import request

from dashapp.payloads import params


def int_param(name: str, default: int, low: int, high: int) -> int:
    return params.whole(request.args.to_dict(flat=False), name, default, low, high)

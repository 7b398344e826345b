"""The facecoach command's sub-commands, one module a concern, each registering its own (``add_commands``).

run (run, demo), bags (replay, record, make-sample), params (set-model, get-model, get-mapping),
session (eval-bag, report); ``facecoach_cli.cli`` assembles them with the bench's and the model tooling's.
"""

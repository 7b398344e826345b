"""The facecoach command's sub-commands, one module a concern, each registering its own (``add_commands``).

demo and run (and what they share: supervised), bags (replay, record, make-sample), params (set-model,
get-model, get-mapping), session (eval-bag, report), calibrate; ``facecoach_cli.cli`` assembles them with the
bench's and the model tooling's.
"""

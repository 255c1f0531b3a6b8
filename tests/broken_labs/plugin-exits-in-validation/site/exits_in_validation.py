import sys

from labrunner.checks import CheckKind, CheckResult, Param


kind = CheckKind(name='exits-in-validation', params={'name': Param(str, required=True)},
                 run=lambda ctx, params: CheckResult.passed('ok'), validate=lambda params: sys.exit(0))

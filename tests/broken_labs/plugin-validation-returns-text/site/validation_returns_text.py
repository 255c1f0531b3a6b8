from labrunner.checks import CheckKind, CheckResult, Param


def validate(params):
    return 'name must end in -cm'  # one problem as text, not a list of them


kind = CheckKind(name='plugin-validation-returns-text', params={'name': Param(str, required=True)},
                 run=lambda ctx, params: CheckResult.passed('ok'), validate=validate)

from labrunner.checks import CheckKind, CheckResult, Param


def validate(params):
    return params['missing']  # a bug: KeyError


kind = CheckKind(name='raises-in-validation', params={'name': Param(str, required=True)},
                 run=lambda ctx, params: CheckResult.passed('ok'), validate=validate)

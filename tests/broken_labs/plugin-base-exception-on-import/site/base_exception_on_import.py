class Stop(BaseException):
    """Like a test helper's failure (pytest.fail), not an Exception."""


raise Stop('stopped while importing')

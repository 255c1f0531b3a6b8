import os

os._exit(0)  # ends the process at once: no exception to catch

"""Add-ons: what a plain cluster lacks and labs need, as data (`<name>/addon.yaml` and the pinned
upstream manifests beside it).

A lab never names an add-on: it `requires:` a capability (labrunner.capabilities), and the add-on
whose `provides` lists it is what `labrunner up` installs on kind and `labrunner addons install`
installs anywhere. `doctor` reports each add-on; one that is missing or not ready makes the
capabilities it provides missing, so checks that need them are an `error` with the fix, never a
learner's `fail`. docs/lab-format.md ("Add-ons") describes the file.
"""

from .installing import AddonState, install, install_fix, state
from .spec import Addon, AddonSpec, addon_providing, load_addons, read_addon

__all__ = ["Addon", "AddonSpec", "AddonState", "addon_providing", "install", "install_fix", "load_addons",
           "read_addon", "state"]

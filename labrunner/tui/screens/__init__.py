"""The screens: lab list, lab view, and the modal confirm and help screens."""

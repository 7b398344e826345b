"""What can go wrong with a bag: one family, BagError, that every command reports in one line."""


class BagError(ValueError):
    """A bag is missing, unreadable, or lacks what was asked for."""


class PartialBag(BagError):
    """Raised after the readable part of a bag was read: the rest is cut off or corrupt."""


class BagFullError(BagError):
    """The disk (or a file size limit) is full: writing stopped, what was committed stays readable."""

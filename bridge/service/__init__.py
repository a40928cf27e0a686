"""Services over the store and the calendar core: what a door asks for, decided once.

No web framework and no Radicale here; views and the CalDAV adapter call in.
"""

"""The calendar core: iCalendar text, time, recurrence, occurrences and iTIP decisions.

Pure: it imports no web framework, no SQL toolkit and no Radicale.
"""

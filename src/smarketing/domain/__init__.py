"""Pure rules over plain data: no database, web or analytics library is imported here."""

"""The case (案卷) and its lifecycle, the SLA clock, the case log, co-handling and supervision."""

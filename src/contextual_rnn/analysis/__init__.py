"""After the fact: the study (``study``), reading its runs (``runs``), the statistics
(``stats``) and what it reports of each task, as data, with the aggregate (``report``)."""

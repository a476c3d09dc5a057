"""After-the-fact analysis: the paper's study, aggregation of finished runs, figures."""

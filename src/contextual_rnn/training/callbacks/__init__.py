"""Lightning callbacks of this project, one per file; conf/callbacks/ has one YAML each."""

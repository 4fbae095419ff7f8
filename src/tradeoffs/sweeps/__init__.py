"""Running many jobs: device leases for parallel jobs on one machine, and collecting a finished sweep."""

"""Protocol-faithful fakes of outside services, on loopback."""

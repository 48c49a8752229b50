// Reliability tests: destination faults.

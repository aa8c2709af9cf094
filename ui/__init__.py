"""Qt/VTK user interface. Importing this package imports neither Qt nor VTK; its modules do."""

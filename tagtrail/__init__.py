"""tagtrail: warehouse RFID reads and barcode scans to a movement history per serialized item."""

__version__ = "0.1.0"

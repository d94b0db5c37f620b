"""One module per verb: no click, no printing of its own (output goes through the renderer in
the App it is given, or it returns records for the click layer to render); errors are raised."""

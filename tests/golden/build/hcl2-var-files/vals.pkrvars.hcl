who = "file"
token = "t0k3n"

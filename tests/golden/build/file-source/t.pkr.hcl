source "file" "copy" {
  source = "in.txt"
  target = "copied.txt"
}

build {
  sources = ["source.file.copy"]

  post-processor "shell-local" {
    inline = ["cat copied.txt"]
  }
}

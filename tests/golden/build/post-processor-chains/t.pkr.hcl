source "null" "a" {
  communicator = "none"
}
source "file" "b" {
  content = "b"
  target  = "b.txt"
}
build {
  sources = ["source.null.a", "source.file.b"]
  post-processor "shell-local" {
    name   = "single"
    inline = ["echo single $PACKER_BUILD_NAME"]
  }
  post-processors {
    post-processor "shell-local" {
      name   = "first"
      only   = ["file.b"]
      inline = ["echo first in chain"]
    }
    post-processor "shell-local" {
      name                = "second"
      keep_input_artifact = false
      inline              = ["echo second in chain"]
    }
  }
}

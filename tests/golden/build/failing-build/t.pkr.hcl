source "null" "ok" {
  communicator = "none"
}

source "null" "bad" {
  communicator = "none"
}

build {
  sources = ["source.null.ok", "source.null.bad"]

  provisioner "shell-local" {
    inline = [
      "echo start ${source.name}",
      "sleep 0.3",
      "if [ \"$PACKER_BUILD_NAME\" = bad ]; then echo failing >&2; exit 3; fi",
      "echo done",
    ]
  }

  provisioner "shell-local" {
    inline = ["echo second provisioner"]
  }
}

source "null" "a" {
  communicator = "none"
}

source "null" "b" {
  communicator = "none"
}

build {
  sources = ["source.null.a", "source.null.b"]

  provisioner "shell-local" {
    only   = ["null.a"]
    inline = ["echo only for a"]
  }

  provisioner "shell-local" {
    except = ["null.a"]
    inline = ["echo everyone but a"]
  }

  provisioner "shell-local" {
    inline = ["echo everyone"]
  }
}

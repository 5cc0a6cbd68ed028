# The docker builder end to end: a shell provisioner (stdout and stderr), a file upload and
# download, a commit with changes, and docker-tag with two tags.
source "docker" "app" {
  image   = "@IMAGE@"
  pull    = false
  commit  = true
  changes = ["ENV APP=forge", "WORKDIR /srv"]
  author  = "forge tests"
  message = "golden"
}

build {
  sources = ["source.docker.app"]

  provisioner "shell" {
    environment_vars = ["GREETING=hello"]
    inline = [
      "echo $GREETING from debian $(cut -c1-2 /etc/debian_version)",
      "mkdir -p /srv/data",
    ]
  }
  # Its own provisioner: how one command's stdout and stderr lines interleave is a race in
  # both tools.
  provisioner "shell" {
    inline = ["echo to stderr >&2"]
  }
  provisioner "file" {
    source      = "payload.txt"
    destination = "/srv/data/payload.txt"
  }
  provisioner "file" {
    source      = "dir"
    destination = "/srv/data"
  }
  provisioner "shell" {
    inline = ["find /srv/data | sort", "cat /srv/data/dir/inner.txt"]
  }
  provisioner "file" {
    direction   = "download"
    source      = "/srv/data/payload.txt"
    destination = "downloaded.txt"
  }

  post-processor "docker-tag" {
    repository = "@REPO@"
    tags       = ["1.0", "latest"]
  }
}

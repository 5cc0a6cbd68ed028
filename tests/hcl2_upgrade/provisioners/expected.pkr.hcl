
locals { timestamp = regex_replace(timestamp(), "[- TZ:]", "") }

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  sources = ["source.null.one", "source.null.two"]

  provisioner "shell-local" {
    inline       = ["echo one"]
    max_retries  = "3"
    only         = ["one"]
    pause_before = "1m30s"
    timeout      = "1h30m0s"
  }

  provisioner "shell-local" {
    except      = ["one"]
    inline      = ["echo two"]
    max_retries = "${var.retries}"
  }

  provisioner "breakpoint" {
    pause_before = "500ms"
  }

  error-cleanup-provisioner "shell-local" {
    inline = ["echo cleanup ${build.name}"]
  }

  post-processor "checksum" {
  }
  post-processor "manifest" {
    keep_input_artifact = false
    output              = "manifest-${local.timestamp}.json"
  }

  # 1 error occurred upgrading the following block:
  # unhandled "upper" call:
  # there is no way to automatically upgrade the "upper" call.
  # Please manually upgrade to `upper(var.example)`
  # Visit https://www.packer.io/docs/templates/hcl_templates/functions/string/upper for more infos.
  post-processors {
    post-processor "compress" {
      name   = "zip it"
      only   = ["one"]
      output = "a.tar.gz"
    }
    post-processor "shell-local" {
      keep_input_artifact = true
      except              = ["two"]
      inline              = ["echo {{ upper `x` }}"]
    }
    post-processor "artifice" {
    }
  }
}

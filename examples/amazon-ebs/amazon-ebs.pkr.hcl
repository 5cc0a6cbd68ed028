# An AMI from the newest Debian 12 image, provisioned over SSH with a temporary key pair and
# security group, copied to a second region. Needs AWS credentials (the standard chain:
# AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ...) and costs a few cents:
#   forge build -var region=eu-west-1 examples/amazon-ebs
# Against an EC2 emulator such as moto, add -var endpoint=http://127.0.0.1:5000.
variable "region" {
  type    = string
  default = "us-east-1"
}

variable "copy_to" {
  type        = list(string)
  default     = []
  description = "Other regions to copy the AMI to."
}

variable "endpoint" {
  type        = string
  default     = ""
  description = "A custom EC2 endpoint (an emulator); empty for AWS itself."
}

data "amazon-ami" "debian" {
  region              = var.region
  custom_endpoint_ec2 = var.endpoint
  filters = {
    name                = "debian-12-amd64-*"
    root-device-type    = "ebs"
    virtualization-type = "hvm"
  }
  owners      = ["136693071363"]
  most_recent = true
}

source "amazon-ebs" "debian" {
  region              = var.region
  custom_endpoint_ec2 = var.endpoint
  source_ami          = data.amazon-ami.debian.id
  instance_type       = "t3.micro"
  ssh_username        = "admin"
  ami_name            = "forge-example-${formatdate("YYYYMMDD-hhmmss", timestamp())}"
  ami_regions         = var.copy_to
  tags = {
    Name   = "forge example"
    Source = "{{ .SourceAMIName }}"
  }
  # forge only: where EC2 has no t3.micro capacity, try these next.
  fallback_instance_types = ["t3a.micro", "t2.micro"]
}

build {
  sources = ["source.amazon-ebs.debian"]

  provisioner "shell" {
    inline = ["echo 'built by forge' | sudo tee /etc/motd"]
  }
}

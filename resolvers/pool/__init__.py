"""The me-images pool: images and their rules (`me_images`), the owner's profile and
kill switch (`profile`), and the owner's data version that cached answers key on
(`owners`)."""

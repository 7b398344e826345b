"""The base every FaceCoach package uses: settings, parameters, QoS, image conversion, stamps, paths, stopping."""

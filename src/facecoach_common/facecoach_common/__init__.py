"""The base every FaceCoach node package uses: settings, parameters, QoS, image conversion, stamps, paths."""
